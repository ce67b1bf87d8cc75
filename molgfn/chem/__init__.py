"""Chemistry helpers: building-block vocabularies, chain assembly, the sehstr tree proxy, and
(``descriptors``) the medicinal-chemistry columns, filters, fingerprint, SDF and drawings."""
