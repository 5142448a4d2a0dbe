<?php
// An extension that aborts: the process sends itself SIGABRT.
posix_kill(getmypid(), SIGABRT);
echo "still alive\n";
