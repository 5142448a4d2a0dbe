<?php
// Classic mode: the `mariadb-write` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_mariadb_write();
