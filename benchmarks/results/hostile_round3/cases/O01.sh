# class: --overwrite and inputs inside the output dir
# case: --overwrite with --model OUT/final (the previous run's policy)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --model o/final --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
