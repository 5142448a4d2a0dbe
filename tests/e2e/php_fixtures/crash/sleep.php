<?php
// Answers after ?ms= milliseconds, with the pid of the shard that ran it.
usleep((int)($_GET['ms'] ?? 1000) * 1000);
echo "slept in ", getmypid(), "\n";
