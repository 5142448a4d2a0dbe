<?php
// The worker of /api/* (match=/api/*).
$defaultName = 'api';
require __DIR__ . '/../lib/worker.php';
