source /tmp/d_faults/common.sh
M=/tmp/d_faults/mnt
mount -t tmpfs -o size=1200k none $M || exit 9
cd /tmp/d_faults
run() { $PY -m sympo_ext.train.cli $(base) "$@" > $M/../last.log 2>&1; rc=$?; echo "rc=$rc :: $(grep -v '^\s*$' $M/../last.log | grep -iv 'warn' | tail -2 | tr '\n' ' ' | cut -c1-400)"; }
echo "== A: checkpoints fill the disk"; run --output_dir $M/o --max_steps 8 --save_steps 1 --save_total_limit 0
df -k $M | tail -1; echo "latest=$(cat $M/o/checkpoints/latest 2>&1) ckpts=$(ls $M/o/checkpoints | tr '\n' ' ')"
$PY -c "from sympo_ext.train.checkpoint import verify_checkpoint as v; import sys; v('$M/o/checkpoints/'+open('$M/o/checkpoints/latest').read().strip()); print('latest verifies')"
echo "== C: resume with --save_total_limit 1 (frees space by pruning)"; run --output_dir $M/o --max_steps 8 --save_steps 1 --save_total_limit 1 --resume
echo "latest=$(cat $M/o/checkpoints/latest 2>&1) ckpts=$(ls $M/o/checkpoints | tr '\n' ' ') final=$(ls $M/o/final 2>&1 | tr '\n' ' ')"
rm -rf $M/o
echo "== D: the disk fills just before final/"
( while [ "$(cat $M/p/checkpoints/latest 2>/dev/null)" != "step-000004" ]; do sleep 0.001; done; dd if=/dev/zero of=$M/filler bs=4k 2>/dev/null; echo "filler written" ) &
run --output_dir $M/p --max_steps 4 --save_steps 2 --save_total_limit 1
wait
echo "latest=$(cat $M/p/checkpoints/latest 2>&1) final=$(ls $M/p/final 2>&1 | tr '\n' ' ') leftovers=$(ls $M/p | tr '\n' ' ')"
rm -f $M/filler
echo "== E: space freed, resume writes final"; run --output_dir $M/p --max_steps 4 --save_steps 2 --save_total_limit 1 --resume
echo "final=$(ls $M/p/final 2>&1 | tr '\n' ' ')"
umount $M
