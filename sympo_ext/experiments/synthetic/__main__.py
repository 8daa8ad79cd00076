"""python -m sympo_ext.experiments.synthetic --self-check"""

from .task import main

main()
