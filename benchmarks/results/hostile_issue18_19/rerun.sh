#!/bin/bash
cd /tmp/h18; export OMP_NUM_THREADS=1 PATH=/work/wt/h18/.venv/bin:$PATH
B="sympo-audit --model run1/final --ref_model ref --beta 0.2"
rm -rf r2_*
./t.sh R_A2 "cd / && sympo-audit --model /tmp/h18/run1 --output_dir /tmp/h18/r2_a2"
./t.sh R_A3 "cd /tmp/h18/other && sympo-audit --model /tmp/h18/run1 --output_dir /tmp/h18/r2_a3"; grep -A2 '"fingerprints"' r2_a3/summary.json 2>/dev/null | tail -1
./t.sh R_A47 "$B --data noisy.jsonl --output_dir /proc/h18out"
mkdir -p rofs full; mount -t tmpfs -o ro,size=1m tmpfs /tmp/h18/rofs; mount -t tmpfs -o size=24k tmpfs /tmp/h18/full
./t.sh R_A48 "$B --data noisy.jsonl --output_dir rofs/out"
./t.sh R_A49 "$B --data noisy.jsonl --output_dir rofs"
./t.sh R_A50 "$B --data noisy.jsonl --output_dir full/out"; ls full/out 2>&1
umount /tmp/h18/rofs /tmp/h18/full
./t.sh R_A58 "$B --data noisy_label.jsonl --output_dir r2_a58"; sed -n 1p r2_a58/cleaned.jsonl; sed -n 1p noisy_label.jsonl
./t.sh R_A59 "$B --data noisy_label.jsonl --output_dir r2_a59"; sed -n 1p r2_a59/suspects.jsonl
./t.sh R_A62 "sympo-audit --model nanmodel --ref_model ref --data noisy.jsonl --beta 0.2 --output_dir r2_a62"
./t.sh R_A64 "sympo-audit --model ref --ref_model ref --data noisy.jsonl --beta 0.2 --output_dir r2_a64"
./t.sh R_A65 "sympo-audit --model infmodel --ref_model ref --data noisy.jsonl --beta 0.2 --output_dir r2_a65"
./t.sh R_A11 "$B --data ds_dict --output_dir r2_a11"
rm -rf oc; (sympo-audit --model run1/final --ref_model ref --data noisy.jsonl --beta 0.2 --output_dir oc --no_progress > logs/R_A98a.txt 2>&1; echo "A rc=$?") & (sympo-audit --model run1/final --ref_model ref --data pairs.jsonl --beta 0.2 --output_dir oc --no_progress > logs/R_A98b.txt 2>&1; echo "B rc=$?"); wait
tail -n1 logs/R_A98a.txt; tail -n1 logs/R_A98b.txt; grep '"data"' oc/summary.json | head -1
rm -rf ok9 && sympo-audit --model run1/final --ref_model ref --data noisy.jsonl --beta 0.2 --method sign --output_dir ok9 --no_progress >/dev/null 2>&1
/work/wt/h18/.venv/bin/python killer.py 6 2>&1 | tail -6
