PY=/work/wt/d/.venv/bin/python
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
base() { echo --model /tmp/d_faults/model --train_data /tmp/d_faults/big.jsonl --batch_size 8 --max_length 32 --progress false --tensorboard off --learning_rate 5e-3 --warmup_ratio 0 --min_lr_ratio 1; }
