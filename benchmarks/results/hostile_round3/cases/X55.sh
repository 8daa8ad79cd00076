# class: option edges
# case: --noise_eps_pos with symmetric noise
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --label_noise 0.1 --noise_eps_pos 0.3
refuse 2 'noise_eps_pos|noise_kind' o
