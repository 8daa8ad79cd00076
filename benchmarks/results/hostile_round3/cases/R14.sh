# class: resume with changed inputs
# case: --config file edited, only logging_steps changed, --resume --config
source /tmp/wh/cases/lib.sh
printf 'beta: 0.1\nlogging_steps: 1\n' > c.yaml
base --config c.yaml
printf 'beta: 0.1\nlogging_steps: 2\n' > c.yaml
K RES --config c.yaml
if [ $RC = 0 ]; then same_as_o && V handled "accepted, exact" || V silent-wrong "weights differ"; else V unclear "refused a logging-only change"; fi
