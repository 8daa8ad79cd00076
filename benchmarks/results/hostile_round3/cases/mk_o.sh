n=0
mk() { n=$((n+1)); id=$(printf 'O%02d' $n); { echo "# class: ${2:---overwrite and inputs inside the output dir}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
mk "--overwrite with --model OUT/final (the previous run's policy)" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --model o/final --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite with --train_data inside OUT" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1; cp d16.jsonl o/mine.jsonl
K TA --output_dir o --train_data o/mine.jsonl --max_steps 1 --overwrite
[ -e o/mine.jsonl ] || { V "lost / mixed" "o/mine.jsonl deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite: --train_data is a symlink inside OUT pointing outside (target must survive)" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1; cp d16.jsonl keep.jsonl; ln -s ../keep.jsonl o/link.jsonl
K TA --output_dir o --train_data o/link.jsonl --max_steps 1 --overwrite
[ -s keep.jsonl ] || { V "lost / mixed" "keep.jsonl (target) deleted"; exit; }
if [ $RC = 0 ]; then V handled "ran; the symlink's target is intact"; else refuse 2 'overwrite|inside'; fi
EOF
mk "--overwrite: --config is a symlink outside pointing to a file inside OUT" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1; printf 'beta: 0.1\n' > o/c.yaml; ln -s o/c.yaml c.yaml
K TA --output_dir o --config c.yaml --max_steps 1 --overwrite
[ -e o/c.yaml ] || { V "lost / mixed" "o/c.yaml deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite: --output_dir is a symlink to a run dir; --model inside the real dir" <<'EOF'
TA --output_dir real --max_steps 1 > /dev/null 2>&1; ln -s real lnk
K TA --output_dir lnk --model real/final --max_steps 1 --overwrite
[ -e real/final/model.safetensors ] || { V "lost / mixed" "real/final deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite on a dir holding only a user's files (notes.txt, no run)" <<'EOF'
mkdir o; echo precious > o/notes.txt
K TA --output_dir o --max_steps 1 --overwrite
if [ -e o/notes.txt ]; then ok0 "kept notes"; elif [ $RC = 0 ]; then V handled "documented: --overwrite empties the directory (notes.txt deleted)"; else V unclear "rc $RC"; fi
EOF
mk "--overwrite and --resume together" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --max_steps 2 --overwrite --resume
refuse 2 'overwrite|resume'
EOF
mk "--overwrite with --model given as OUT/../OUT/final (non-normalised path)" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1; mkdir -p x
K TA --output_dir o --model x/../o/final --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite on an existing run with bad data: existing run untouched?" <<'EOF'
TA --output_dir o --max_steps 2 > /dev/null 2>&1; md5sum o/metrics.csv o/final/model.safetensors > before.md5
echo '{"prompt": 1}' > bad.jsonl
K TA --output_dir o --train_data bad.jsonl --max_steps 1 --overwrite
md5sum -c --quiet before.md5 || { V "lost / mixed" "existing run changed"; exit; }
refuse 2 'bad.jsonl'
EOF
mk "--overwrite with --ref_model reached through a symlink chain into OUT" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1; ln -s o/final l1; ln -s l1 l2
K TA --output_dir o --ref_model l2 --max_steps 1 --overwrite
[ -e o/final/model.safetensors ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--overwrite with --tokenizer a hard-linked copy of OUT/final's files? (--tokenizer OUT/final/../final)" <<'EOF'
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --tokenizer o/final/../final --max_steps 1 --overwrite
[ -e o/final/tokenizer.json ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
EOF
mk "--output_dir is the model directory itself (no --overwrite)" <<'EOF'
K TA --output_dir model --max_steps 1
[ -e model/model.safetensors ] || { V "lost / mixed" "model deleted"; exit; }
refuse 2 'output_dir|holds|model'
EOF
mk "--overwrite while OUT holds a precomputed cache from the other run (the cache is not reused)" <<'EOF'
TA --output_dir o --train_data d256.jsonl --max_steps 1 --reference precomputed > /dev/null 2>&1
K TA --output_dir o --max_steps 2 --reference precomputed --overwrite
TA --output_dir f --max_steps 2 --reference precomputed > /dev/null 2>&1
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "same as a fresh run" || V silent-wrong "rc $RC $m"
EOF
mk "--overwrite where --output_dir is '.' with nothing of the run's inputs inside (cwd = a scratch dir with a user's file)" <<'EOF'
mkdir s; echo mine > s/keep.txt; cd s
K nice -n 10 sympo-train --model ../model --train_data ../d16.jsonl --batch_size 4 --progress false --output_dir . --max_steps 1 --overwrite
cd ..; ls s | head
if [ -e s/keep.txt ]; then V handled "rc $RC, keep.txt kept"; elif [ $RC = 0 ]; then V handled "documented emptying of '.' (keep.txt deleted)"; else V unclear "rc $RC"; fi
EOF
