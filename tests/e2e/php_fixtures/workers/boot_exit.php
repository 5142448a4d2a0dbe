<?php
// A worker that cannot boot: it exits with code 3 before its loop.
exit(3);
