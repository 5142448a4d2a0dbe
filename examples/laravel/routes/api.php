<?php
// Stateless routes (the "api" middleware group): no cookies, no session.

use App\Http\Controllers\DemoController;
use Illuminate\Support\Facades\Route;

Route::get('/json', [DemoController::class, 'json']);
Route::get('/db', [DemoController::class, 'db']);
