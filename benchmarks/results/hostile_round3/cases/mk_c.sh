n=0
mk() { n=$((n+1)); id=$(printf 'C%02d' $n); { echo "# class: ${2:-checkpoints: foreign, damaged, odd states}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
mk "a checkpoint copied from another run (other data, same options) as step-000003 + latest -> it" <<'EOF'
base
TA --output_dir other --train_data d256.jsonl --max_steps 3 --save_steps 1 --save_total_limit 0 > /dev/null 2>&1
cp -r other/checkpoints/step-000003 o2/checkpoints/; printf step-000003 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "ignored the foreign one, exact" || V "lost / mixed" "resumed from the other run's checkpoint without a word"; else refuse 2 'checkpoint|run|step-000003'; fi
EOF
mk "checkpoints/ replaced by a symlink to another run's checkpoints (other seed)" <<'EOF'
base
TA --output_dir other --max_steps 3 --save_steps 1 --save_total_limit 0 --seed 5 > /dev/null 2>&1
rm -rf o2/checkpoints; ln -s ../other/checkpoints o2/checkpoints
K RES
if [ $RC = 0 ]; then V "lost / mixed" "resumed from another run's (seed 5) checkpoint"; else refuse 2 'checkpoint|seed'; fi
EOF
mk "a checkpoint from a run with another beta copied in (step-000003, latest)" <<'EOF'
base
TA --output_dir other --max_steps 3 --save_steps 1 --save_total_limit 0 --beta 0.3 > /dev/null 2>&1
cp -r other/checkpoints/step-000003 o2/checkpoints/; printf step-000003 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V "lost / mixed" "resumed from the beta-0.3 run's checkpoint"; else refuse 2 'beta|checkpoint'; fi
EOF
mk "latest names a step that does not exist" <<'EOF'
base
printf step-000009 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "fell back to newest intact, exact" || V silent-wrong "weights differ"; else refuse 2 'latest|step-000009'; fi
EOF
mk "latest holds garbage bytes" <<'EOF'
base
printf '\x00\xff../../etc' > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V silent-wrong "weights differ"; else refuse 2 'latest'; fi
EOF
mk "latest deleted (step-1, step-2 present)" <<'EOF'
base
rm o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "found step-2, exact" || V silent-wrong "weights differ (restarted from step 0?)"; else refuse 2 'latest'; fi
EOF
mk "latest -> step-000001 while step-000002 also exists (older latest)" <<'EOF'
base
printf step-000001 > o2/checkpoints/latest
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
EOF
mk "checkpoints/ emptied (run.json and metrics.csv remain)" <<'EOF'
base
rm -rf o2/checkpoints/*
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ]; then same_as_o && V handled "restarted from 0 with a message? rows: $rows" || V silent-wrong "weights differ; rows $rows"; else V unclear "rc $RC"; fi
EOF
mk "manifest.json deleted from the latest checkpoint" <<'EOF'
base
rm o2/checkpoints/step-000002/manifest.json
K RES
grep -qi 'step-000002' key.out && [ $RC = 0 ] && { same_as_o; V handled "skipped step-2 (named), resumed from step-1"; } || { [ $RC = 0 ] && V unclear "accepted, no word about step-2" || refuse 2 manifest; }
EOF
mk "model.pt of the latest checkpoint truncated" <<'EOF'
base
truncate -s 50 o2/checkpoints/step-000002/model.pt
K RES
if [ $RC = 0 ]; then same_as_o && grep -qi step-000002 key.out && V handled "skipped, named, exact" || V silent-wrong "weights differ"; else V unclear "rc $RC"; fi
EOF
mk "every checkpoint damaged (optimizer.pt bit flipped in both)" <<'EOF'
base
for s in 1 2; do f=o2/checkpoints/step-00000$s/optimizer.pt; $PY -c "import sys;b=bytearray(open('$f','rb').read());b[len(b)//2]^=1;open('$f','wb').write(b)"; done
K RES
refuse 2 'intact|optimizer.pt|checkpoint'
EOF
mk "step dir renamed step-000002 -> step-000003 (name and content disagree), latest -> it" <<'EOF'
base
mv o2/checkpoints/step-000002 o2/checkpoints/step-000003; printf step-000003 > o2/checkpoints/latest
K RES
rows=$(cut -d, -f1 o2/metrics.csv | paste -sd' ')
if [ $RC = 0 ]; then same_as_o && [ "$rows" = "step 1 2 3 4" ] && V handled "exact, rows $rows" || V silent-wrong "rc 0, rows $rows / weights"; else refuse 2 'step'; fi
EOF
mk "a foreign directory and file in checkpoints/ (notes/, readme.txt)" <<'EOF'
base
mkdir o2/checkpoints/notes; echo hi > o2/checkpoints/readme.txt
K RES
[ -e o2/checkpoints/readme.txt ] && [ -d o2/checkpoints/notes ] || { V "lost / mixed" "user files in checkpoints/ deleted"; exit; }
if [ $RC = 0 ]; then same_as_o && V handled "ignored, exact" || V silent-wrong diff; else V unclear "rc $RC"; fi
EOF
mk "leftover .tmp-step-000003 (half-written checkpoint) present" <<'EOF'
base
cp -r o/checkpoints/step-000003 o2/checkpoints/.tmp-step-000003; rm o2/checkpoints/.tmp-step-000003/manifest.json
K RES
if [ $RC = 0 ]; then same_as_o && [ ! -e o2/checkpoints/.tmp-step-000003 ] && V handled "cleaned, exact" || V silent-wrong "weights or leftover"; else V unclear "rc $RC"; fi
EOF
mk "checkpoints is a regular file" <<'EOF'
base
rm -rf o2/checkpoints; echo x > o2/checkpoints
K RES
refuse 2 'checkpoints'
EOF
mk "rng-rank0.pt missing in the latest checkpoint" <<'EOF'
base
rm o2/checkpoints/step-000002/rng-rank*.pt
K RES
if [ $RC = 0 ]; then same_as_o && V handled "exact (fell back?)" || V silent-wrong "weights differ"; else refuse 2 'rng|step-000002'; fi
EOF
mk "a checkpoint symlinked from another run with the same options (identical content)" <<'EOF'
base
cp -r o other; rm -rf o2/checkpoints/step-000002; ln -s ../../other/checkpoints/step-000002 o2/checkpoints/step-000002
K RES
ls -la o2/checkpoints | head; [ -d other/checkpoints/step-000002 ] || { V "lost / mixed" "other run's checkpoint removed (pruning through the link?)"; exit; }
if [ $RC = 0 ]; then same_as_o && V handled "exact; other run intact" || V silent-wrong diff; else V unclear "rc $RC"; fi
EOF
mk "--save_total_limit 1 on resume prunes through a symlinked checkpoint of another run?" <<'EOF'
base
cp -r o other; rm -rf o2/checkpoints/step-000001; ln -s ../../other/checkpoints/step-000001 o2/checkpoints/step-000001
K RES --save_total_limit 1
[ -e other/checkpoints/step-000001/model.pt ] || { V "lost / mixed" "pruning deleted the OTHER run's step-000001 through the symlink"; exit; }
ok0 "other run intact"
EOF
