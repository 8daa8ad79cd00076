# class: --overwrite and inputs inside the output dir
# case: --overwrite with --model given as OUT/../OUT/final (non-normalised path)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1; mkdir -p x
K TA --output_dir o --model x/../o/final --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
