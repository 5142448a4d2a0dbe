<?php
// Classic mode: the `sqlite-read` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_sqlite_read();
