<?php
// Counts this client's requests in its session, with the default save path.
session_start();
$_SESSION['count'] = ($_SESSION['count'] ?? 0) + 1;
$folder = session_save_path();
header('Content-Type: application/json');
echo json_encode([
    'count' => $_SESSION['count'],
    'save_path' => $folder,
    'mode' => is_dir($folder) ? sprintf('%o', fileperms($folder) & 07777) : null,
    'file' => is_file($folder . '/sess_' . session_id()),
]);
