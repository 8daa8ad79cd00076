# class: checkpoints: foreign, damaged, odd states
# case: a foreign directory and file in checkpoints/ (notes/, readme.txt)
source /tmp/wh/cases/lib.sh
base
mkdir o2/checkpoints/notes; echo hi > o2/checkpoints/readme.txt
K RES
[ -e o2/checkpoints/readme.txt ] && [ -d o2/checkpoints/notes ] || { V "lost / mixed" "user files in checkpoints/ deleted"; exit; }
if [ $RC = 0 ]; then same_as_o && V handled "ignored, exact" || V silent-wrong diff; else V unclear "rc $RC"; fi
