"""Measured effects: GTEx tables, generic QTL tables, fine-mapped eQTLs, GTEx releases, and the schema they share."""
