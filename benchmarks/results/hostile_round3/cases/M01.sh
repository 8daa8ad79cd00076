# class: model / tokenizer mismatches
# case: config.json is not JSON
source /tmp/wh/cases/lib.sh
echo '{"model_type": "llama",' > model/config.json
K TA --output_dir o --max_steps 1
refuse 2 'config.json|model' o
