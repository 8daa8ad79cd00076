# class: resume with changed inputs
# case: saved datasets directory as --train_data, rows edited (re-saved) before --resume
source /tmp/wh/cases/lib.sh
$PY -c "import datasets,json;datasets.Dataset.from_list([json.loads(l) for l in open('d16.jsonl')]).save_to_disk('ds')" >/dev/null 2>&1
TA --output_dir o --train_data ds --max_steps 4 --save_steps 1 --save_total_limit 0 > base.out 2>&1
cp -r o o2; rm -rf o2/checkpoints/step-000003 o2/checkpoints/step-000004 o2/final; printf step-000002 > o2/checkpoints/latest
rm -rf ds; $PY -c "import datasets,json;r=[json.loads(l) for l in open('d16.jsonl')][::-1];datasets.Dataset.from_list(r).save_to_disk('ds')" >/dev/null 2>&1
K RES
refuse 2 'train_data|data|changed|pairs'
