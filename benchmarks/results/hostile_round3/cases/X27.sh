# class: option edges
# case: --loss_types 9 terms (more than 8)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,symmetric_ramp,unhinged,logistic,hinge,square,exp,ramp,ipo
refuse 2 '8|too many|at most' o
