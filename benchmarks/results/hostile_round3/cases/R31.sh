# class: resume with changed inputs
# case: --resume without --output_dir's stored cwd: run from another directory (relative paths in run.json)
source /tmp/wh/cases/lib.sh
base
mkdir elsewhere; cp -r model_b elsewhere/model; cp d256.jsonl elsewhere/d16.jsonl
cd elsewhere
K T --output_dir ../o2 --resume --progress false; mv key.out ..
cd ..
if [ $RC = 0 ]; then same_as_o && V handled "resolved against the run's recorded cwd, exact" || V silent-wrong "used the other directory's model/data"; else refuse 2 'cwd|recorded|ran in|started in'; fi
