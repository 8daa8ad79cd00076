# class: checkpoints: foreign, damaged, odd states
# case: checkpoints is a regular file
source /tmp/wh/cases/lib.sh
base
rm -rf o2/checkpoints; echo x > o2/checkpoints
K RES
refuse 2 'checkpoints'
