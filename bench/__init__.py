"""`make bench`: how long `storydeck build` takes, against genanki writing the same cards."""
