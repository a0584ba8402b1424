"""Files in and out: atomic writes, downloads, table and FASTA reading, and the input error every reader raises."""
