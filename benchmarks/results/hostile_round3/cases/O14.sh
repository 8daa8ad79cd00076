# class: --overwrite and inputs inside the output dir
# case: --overwrite where --output_dir is '.' with nothing of the run's inputs inside (cwd = a scratch dir with a user's file)
source /tmp/wh/cases/lib.sh
mkdir s; echo mine > s/keep.txt; cd s
K nice -n 10 sympo-train --model ../model --train_data ../d16.jsonl --batch_size 4 --progress false --output_dir . --max_steps 1 --overwrite
cd ..; ls s | head
if [ -e s/keep.txt ]; then V handled "rc $RC, keep.txt kept"; elif [ $RC = 0 ]; then V handled "documented emptying of '.' (keep.txt deleted)"; else V unclear "rc $RC"; fi
