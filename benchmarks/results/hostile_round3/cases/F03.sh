# class: faults
# case: kill -9 while final/ is being written (final.tmp present), then --resume
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
hit=0; for j in $(seq 1 20000); do if ls -a o 2>/dev/null | grep -q 'final'; then kill -9 $P; hit=1; break; fi; kill -0 $P 2>/dev/null || break; done; wait $P
echo "hit=$hit; $(ls -a o)"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "final written on resume, exact (hit=$hit)" || V silent-wrong "rc $RC $m"
