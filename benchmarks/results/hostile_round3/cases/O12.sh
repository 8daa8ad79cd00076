# class: --overwrite and inputs inside the output dir
# case: --output_dir is the model directory itself (no --overwrite)
source /tmp/wh/cases/lib.sh
K TA --output_dir model --max_steps 1
[ -e model/model.safetensors ] || { V "lost / mixed" "model deleted"; exit; }
refuse 2 'output_dir|holds|model'
