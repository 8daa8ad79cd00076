# class: --overwrite and inputs inside the output dir
# case: --overwrite: --output_dir is a symlink to a run dir; --model inside the real dir
source /tmp/wh/cases/lib.sh
TA --output_dir real --max_steps 1 > /dev/null 2>&1; ln -s real lnk
K TA --output_dir lnk --model real/final --max_steps 1 --overwrite
[ -e real/final/model.safetensors ] || { V "lost / mixed" "real/final deleted"; exit; }
refuse 2 'overwrite|inside'
