# class: checkpoints: foreign, damaged, odd states
# case: --save_total_limit 1 on resume prunes through a symlinked checkpoint of another run?
source /tmp/wh/cases/lib.sh
base
cp -r o other; rm -rf o2/checkpoints/step-000001; ln -s ../../other/checkpoints/step-000001 o2/checkpoints/step-000001
K RES --save_total_limit 1
[ -e other/checkpoints/step-000001/model.pt ] || { V "lost / mixed" "pruning deleted the OTHER run's step-000001 through the symlink"; exit; }
if [ $RC = 0 ]; then ok0 "other run intact"; else refuse 2 "symbolic link|link"; fi
