<?php
// A crash PHP cannot catch: the process sends itself SIGSEGV.
posix_kill(getmypid(), SIGSEGV);
echo "still alive\n";
