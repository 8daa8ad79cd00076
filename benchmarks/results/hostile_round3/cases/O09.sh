# class: --overwrite and inputs inside the output dir
# case: --overwrite on an existing run with bad data: existing run untouched?
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 2 > /dev/null 2>&1; md5sum o/metrics.csv o/final/model.safetensors > before.md5
echo '{"prompt": 1}' > bad.jsonl
K TA --output_dir o --train_data bad.jsonl --max_steps 1 --overwrite
md5sum -c --quiet before.md5 || { V "lost / mixed" "existing run changed"; exit; }
refuse 2 'bad.jsonl'
