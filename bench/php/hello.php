<?php
// Classic mode: the `hello` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_hello();
