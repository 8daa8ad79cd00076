# class: checkpoints: foreign, damaged, odd states
# case: manifest.json deleted from the latest checkpoint
source /tmp/wh/cases/lib.sh
base
rm o2/checkpoints/step-000002/manifest.json
K RES
grep -qi 'step-000002' key.out && [ $RC = 0 ] && { same_as_o; V handled "skipped step-2 (named), resumed from step-1"; } || { [ $RC = 0 ] && V unclear "accepted, no word about step-2" || refuse 2 manifest; }
