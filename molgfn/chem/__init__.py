"""Chemistry helpers: building-block vocabularies, chain assembly and the sehstr tree proxy."""
