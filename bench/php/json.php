<?php
// Classic mode: the `json` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_json();
