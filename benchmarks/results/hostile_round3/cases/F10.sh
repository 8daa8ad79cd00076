# class: faults
# case: the disk fills up while the run is live (tmpfs filled by dd mid-run): status 4, an intact checkpoint, --resume after freeing space is exact
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
fresh
mkdir mnt; mount -t tmpfs -o size=30m tmpfs mnt
bg --output_dir mnt/o --tensorboard off
until [ $(cat mnt/o/metrics.csv 2>/dev/null | wc -l) -ge 10 ]; do sleep 0.05; kill -0 $P || break; done
dd if=/dev/zero of=mnt/fill bs=64k 2>/dev/null; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out; tailk 2
lat=$(cat mnt/o/checkpoints/latest); rm mnt/fill
nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir mnt/o --tensorboard off --resume > res.out 2>&1; r2=$?
m=$(cmpw mnt/o f | grep -o 'MAXDIFF=[^ ]*'); echo "latest at failure $lat; resume rc $r2 $m"; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && [ $r2 = 0 ] && [ "$m" = "MAXDIFF=0.0" ]; then V handled "4 at step ${lat}, resume exact"; elif [ $RC = 0 ]; then V unclear "finished before the disk filled"; else V unclear "rc $RC resume $r2 $m"; fi
