from storydeck.cli import main

main()
