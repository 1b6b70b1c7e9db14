"""A module that starts a thread when imported: the preloaded run forker must refuse to fork
from a process holding one (test_run_launcher)."""

import threading
import time

threading.Thread(target=time.sleep, args=(3600,), daemon=True, name="started-at-import").start()
