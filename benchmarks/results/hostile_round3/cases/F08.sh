# class: faults
# case: --output_dir on a read-only file system (new subdirectory)
source /tmp/wh/cases/lib.sh
mkdir ro; mount -t tmpfs -o ro,size=1m tmpfs ro
K TA --output_dir ro/out --max_steps 1
umount ro
refuse 2 'ro/out|output_dir|read-only'
