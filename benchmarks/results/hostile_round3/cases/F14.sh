# class: faults
# case: disk full while --reference precomputed writes ref_logps.pt (tmpfs)
source /tmp/wh/cases/lib.sh
mkdir mnt; mount -t tmpfs -o size=140k tmpfs mnt
K TA --output_dir mnt/o --train_data d256.jsonl --reference precomputed --max_steps 2 --tensorboard off
ls -a mnt/o 2>&1 | paste -sd' '; df -k mnt | tail -1; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ]; then V handled "status 4"; elif [ $RC = 0 ]; then V handled "fitted"; else V unclear "rc $RC"; fi
