# class: faults
# case: --output_dir an existing empty dir on a read-only file system
source /tmp/wh/cases/lib.sh
mkdir ro; mount -t tmpfs -o size=1m tmpfs ro; mkdir ro/out; mount -o remount,ro ro
K TA --output_dir ro/out --max_steps 1
umount ro
refuse 2 'ro/out|output_dir|read-only'
