# The lab (issue 11, docs/lab.md): make lab builds every variant of bench/lab/variants.txt (the
# switches of mk/lab.conf) into build/lab/<name>, runs the in-QEMU benchmark on each (Bochs for
# PCID) and writes bench/results/lab/lab.{txt,csv,png}. Not part of make bench (it takes ~10 min).
.PHONY: lab
lab: setup
	bash bench/lab.sh
