<?php
// Classic mode: the `template` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_template();
