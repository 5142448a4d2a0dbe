<?php
// Classic mode: the `burn` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_burn();
