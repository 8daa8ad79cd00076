# class: --overwrite and inputs inside the output dir
# case: --overwrite on a dir holding only a user's files (notes.txt, no run)
source /tmp/wh/cases/lib.sh
mkdir o; echo precious > o/notes.txt
K TA --output_dir o --max_steps 1 --overwrite
if [ -e o/notes.txt ]; then ok0 "kept notes"; elif [ $RC = 0 ]; then V handled "documented: --overwrite empties the directory (notes.txt deleted)"; else V unclear "rc $RC"; fi
