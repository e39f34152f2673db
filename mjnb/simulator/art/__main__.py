"""``python -m mjnb.simulator.art demo OUT.png``: the contact sheet."""

from mjnb.simulator.art.sheet import main

raise SystemExit(main())
