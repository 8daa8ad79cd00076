# class: sympo-audit: output dir
# case: cleaned.jsonl in --output_dir is a symlink to the user's data (a previous audit dir)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a >/dev/null 2>&1
cp a40_noisy.jsonl keep.jsonl; md5sum keep.jsonl > m; rm a/cleaned.jsonl; ln -s ../keep.jsonl a/cleaned.jsonl
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --relabel --output_dir a
md5sum -c --quiet m || { V "lost / mixed" "write went through the symlink into keep.jsonl"; exit; }
ok0 "link replaced, target intact"
