<?php
// Classic mode: the `slow-reader` scenario's response (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_stream();
