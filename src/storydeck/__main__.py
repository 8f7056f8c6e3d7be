from storydeck.cli import run

run()
