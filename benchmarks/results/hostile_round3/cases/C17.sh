# class: checkpoints: foreign, damaged, odd states
# case: a checkpoint symlinked from another run with the same options (identical content)
source /tmp/wh/cases/lib.sh
base
cp -r o other; rm -rf o2/checkpoints/step-000002; ln -s ../../other/checkpoints/step-000002 o2/checkpoints/step-000002
K RES
ls -la o2/checkpoints | head; [ -d other/checkpoints/step-000002 ] || { V "lost / mixed" "other run's checkpoint removed (pruning through the link?)"; exit; }
if [ $RC = 0 ]; then same_as_o && V handled "exact; other run intact" || V silent-wrong diff; else refuse 2 "symbolic link|link"; fi
