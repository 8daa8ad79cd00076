# class: --overwrite and inputs inside the output dir
# case: --overwrite with --ref_model reached through a symlink chain into OUT
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1; ln -s o/final l1; ln -s l1 l2
K TA --output_dir o --ref_model l2 --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
